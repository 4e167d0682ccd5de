package chlocal

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"os"
	"path/filepath"
	"text/template"

	"github.com/secimpact/impact/internal/readonly"
)

// configXML is the server configuration. The <yandex> root is what 18.16
// reads; current releases accept it too. Only the HTTP and native ports are
// opened (no interserver, MySQL or PostgreSQL ports), on 127.0.0.1 only.
// Caches are small because several servers may share one test machine; a
// short HTTP keep-alive keeps graceful stops (outage tests) quick.
var configXML = template.Must(template.New("config.xml").Parse(`<?xml version="1.0"?>
<yandex>
    <logger>
        <level>{{.LogLevel}}</level>
        <log>{{.Dir}}/log/clickhouse-server.log</log>
        <errorlog>{{.Dir}}/log/clickhouse-server.err.log</errorlog>
        <size>50M</size>
        <count>1</count>
        <console>0</console>
    </logger>
    <listen_host>127.0.0.1</listen_host>
    <tcp_port>{{.TCPPort}}</tcp_port>
    <http_port>{{.HTTPPort}}</http_port>
    <path>{{.Dir}}/data/</path>
    <tmp_path>{{.Dir}}/tmp/</tmp_path>
    <user_files_path>{{.Dir}}/user_files/</user_files_path>
    <format_schema_path>{{.Dir}}/format_schemas/</format_schema_path>
    <users_config>{{.Dir}}/users.xml</users_config>
    <default_profile>default</default_profile>
    <default_database>default</default_database>
    <timezone>UTC</timezone>
    <max_connections>1024</max_connections>
    <keep_alive_timeout>1</keep_alive_timeout>
    <max_concurrent_queries>100</max_concurrent_queries>
    <uncompressed_cache_size>134217728</uncompressed_cache_size>
    <mark_cache_size>268435456</mark_cache_size>
    <mlock_executable>false</mlock_executable>
    <builtin_dictionaries_reload_interval>3600</builtin_dictionaries_reload_interval>
    <max_session_timeout>3600</max_session_timeout>
    <default_session_timeout>60</default_session_timeout>
{{- if .InterserverPort}}
    <interserver_http_host>127.0.0.1</interserver_http_host>
    <interserver_http_port>{{.InterserverPort}}</interserver_http_port>
{{- end}}
{{.Extra}}
</yandex>
`))

// usersXML defines the users: "default" may do anything; ReaderUser gets
// the read-only profile of package readonly (readonly=1: no writes, no
// DDL, no table functions, no setting changes beyond what the profile
// allows), the same profile deploy/clickhouse/users.d gives impact_reader
// in production. Both are restricted to loopback and have no password,
// which is acceptable only because the server listens on 127.0.0.1 alone.
var usersXML = template.Must(template.New("users.xml").Parse(`<?xml version="1.0"?>
<yandex>
    <profiles>
        <default>
            <max_memory_usage>4000000000</max_memory_usage>
            <use_uncompressed_cache>0</use_uncompressed_cache>
            <load_balancing>random</load_balancing>
            <!-- ON CLUSTER DDL of the cluster tests: on a loaded 2-core
                 machine one replica of four can take over the default 180 s -->
            <distributed_ddl_task_timeout>600</distributed_ddl_task_timeout>
        </default>
{{.ReaderProfile -}}
    </profiles>
    <users>
        <default>
            <password></password>
            <networks><ip>127.0.0.1</ip><ip>::1</ip></networks>
            <profile>default</profile>
            <quota>default</quota>
        </default>
        <{{.Reader}}>
            <password></password>
            <networks><ip>127.0.0.1</ip><ip>::1</ip></networks>
            <profile>{{.ReaderProfileName}}</profile>
            <quota>default</quota>
        </{{.Reader}}>
    </users>
    <quotas>
        <default>
            <interval>
                <duration>3600</duration>
                <queries>0</queries>
                <errors>0</errors>
                <result_rows>0</result_rows>
                <read_rows>0</read_rows>
                <execution_time>0</execution_time>
            </interval>
        </default>
    </quotas>
</yandex>
`))

// writeConfig writes config.xml and users.xml into the server directory.
func (s *Server) writeConfig() error {
	data := struct {
		Dir, LogLevel, Reader              string
		ReaderProfile, ReaderProfileName   string
		TCPPort, HTTPPort, InterserverPort int
		Extra                              string
	}{
		xmlText(s.dir), xmlText(s.opts.LogLevel), ReaderUser,
		readonly.ProfileXML("        ", s.version.constraints()), readonly.ProfileName,
		s.tcpPort, s.httpPort, s.opts.InterserverPort, s.opts.ExtraConfig,
	}
	for _, f := range []struct {
		name string
		tmpl *template.Template
	}{{"config.xml", configXML}, {"users.xml", usersXML}} {
		var b bytes.Buffer
		if err := f.tmpl.Execute(&b, data); err != nil {
			return fmt.Errorf("render clickhouse %s: %w", f.name, err)
		}
		if err := os.WriteFile(filepath.Join(s.dir, f.name), b.Bytes(), 0o644); err != nil {
			return fmt.Errorf("write clickhouse %s: %w", f.name, err)
		}
	}
	return nil
}

// xmlText escapes s for use as XML character data.
func xmlText(s string) string {
	var b bytes.Buffer
	xml.EscapeText(&b, []byte(s)) // writes to a bytes.Buffer cannot fail
	return b.String()
}
