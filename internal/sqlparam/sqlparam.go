// Package sqlparam fills the @name parameters of impact's embedded SQL with
// literals, the one way every package renders a statement for the server,
// for `--plan` output and for the chdb check alike: the text checked is the
// text sent.
//
// Values are integers, which cannot change a statement, and strings, which
// are written as single-quoted literals with every quote and backslash
// escaped, so no value can end its literal.
package sqlparam

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// nameRE matches a parameter: @ and the longest run of lower-case letters,
// digits and underscores, so @from never matches the start of @from_date.
var nameRE = regexp.MustCompile(`@[a-z_][a-z0-9_]*`)

// Bind returns q with every @name replaced by the literal of vals[name].
// A value may be an int, an int64 or a string. A parameter without a value,
// or a value of another type, is an error naming it; values q does not use
// are ignored.
func Bind[V any](q string, vals map[string]V) (string, error) {
	var err error
	out := nameRE.ReplaceAllStringFunc(q, func(m string) string {
		if err != nil {
			return m
		}
		v, ok := vals[m[1:]]
		if !ok {
			err = fmt.Errorf("bind SQL parameters: no value for %s", m)
			return m
		}
		lit, lerr := Literal(v)
		if lerr != nil {
			err = fmt.Errorf("bind SQL parameter %s: %w", m, lerr)
			return m
		}
		return lit
	})
	if err != nil {
		return "", err
	}
	return out, nil
}

// Literal returns the SQL literal of v: an int or int64 in decimal, a
// string single-quoted with quotes and backslashes escaped (ClickHouse's
// string literal syntax, on 18.16 and current releases).
func Literal(v any) (string, error) {
	switch v := v.(type) {
	case int:
		return strconv.Itoa(v), nil
	case int64:
		return strconv.FormatInt(v, 10), nil
	case string:
		return "'" + quoteReplacer.Replace(v) + "'", nil
	default:
		return "", fmt.Errorf("value of type %T: only int, int64 and string are bound", v)
	}
}

var quoteReplacer = strings.NewReplacer(`\`, `\\`, `'`, `\'`)
