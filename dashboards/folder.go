package dashboards

// The Grafana folder every impact dashboard lives in.
const (
	FolderUID   = "impact"
	FolderTitle = "impact"
)
