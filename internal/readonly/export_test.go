package readonly

// RemoteTableFunctions are allow_readonly on current releases but reach
// other servers; the reader's grants refuse them (no REMOTE source grant).
var RemoteTableFunctions = []string{"cluster", "clusterAllReplicas"}
