package migrations

import "embed"

// embedded holds the migration files of this directory.
//
//go:embed *.sql
var embedded embed.FS
