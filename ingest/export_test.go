package ingest

// LimitDecompression lets the external tests install the limited codecs
// before any test goroutine uses kafka-go (New writes kafka-go's codec
// table the first time, unsynchronised with other goroutines).
func LimitDecompression() { limitDecompression(decompressLimit(DefaultMemoryBudget)) }
