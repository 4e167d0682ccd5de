-- Incremental refresh: the partitions without a changed entity are
-- attached to the new table from the live one as they are (hard links to
-- the same parts: no data is read or written).
ALTER TABLE {{.Table}}
{{- range $i, $id := .Attach}}{{if $i}},{{end}}
    ATTACH PARTITION ID '{{$id}}' FROM {{$.Source}}
{{- end}}
