-- Incremental refresh: partitions of the live table attached to another
-- table as they are (hard links to the same parts: no data is read or
-- written): those without a changed entity to the new table, those being
-- rebuilt to the scratch table copy.sql reads.
ALTER TABLE {{.Table}}
{{- range $i, $id := .Attach}}{{if $i}},{{end}}
    ATTACH PARTITION ID '{{$id}}' FROM {{$.Source}}
{{- end}}
