package chconn

// SetCompress turns compression of in's bodies on or off (the default
// depends on the addresses: tests run on loopback).
func SetCompress(in *Inserter, on bool) { in.compress = on }
