package schemas

// MaxPartitionsPerInsert is maxPartitionsPerInsert, for the external tests.
const MaxPartitionsPerInsert = maxPartitionsPerInsert
