CREATE TABLE t (x UInt8) ENGINE = Memory;
