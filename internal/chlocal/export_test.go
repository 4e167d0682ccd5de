package chlocal

// ReaderConstraints reports whether the reader profile carries the
// readonly package's constraints (current releases): the reader may then
// lower max_execution_time per query. Without them (18.16) the reader can
// change no setting at all.
func (s *Server) ReaderConstraints() bool { return s.version.constraints() }
