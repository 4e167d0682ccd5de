-- A layer table (a layered model's base or delta) keeps a 64-bit hash of
-- each row's key beside the model's columns, which the view (it names the
-- model's columns) does not show. The view takes the delta's entities out
-- of the base by this hash: a set of integers probed with the integers of
-- one column, where the keys themselves (strings of some 30 bytes) cost
-- 0.07-0.1 s of server CPU per read of the view at 10M events, in each of
-- the five or so reads of a refresh. A base row whose hash a delta row has
-- but not its key would be hidden: before a delta is kept, buildLayered
-- looks for such a row (layer_collisions.sql) and folds instead.
ALTER TABLE {{.Table}} ADD COLUMN layer_key_hash UInt64 DEFAULT sipHash64({{.Key}})
