package rctl

// The names of the catalogue's controls, for code that names one: a
// misspelt constant does not compile, where a misspelt string is a
// control the catalogue does not have.
const (
	ProcessMaxAddressSpace   = "process.max-address-space"
	ProcessMaxCoreSize       = "process.max-core-size"
	ProcessMaxCPUTime        = "process.max-cpu-time"
	ProcessMaxDataSize       = "process.max-data-size"
	ProcessMaxFileDescriptor = "process.max-file-descriptor"
	ProcessMaxFileSize       = "process.max-file-size"
	ProcessMaxStackSize      = "process.max-stack-size"
	ProjectCPUCap            = "project.cpu-cap"
	ProjectCPUShares         = "project.cpu-shares"
	ProjectMaxLockedMemory   = "project.max-locked-memory"
	ProjectMaxLwps           = "project.max-lwps"
	ProjectMaxMemory         = "project.max-memory"
	ProjectMaxMsgIDs         = "project.max-msg-ids"
	ProjectMaxProcesses      = "project.max-processes"
	ProjectMaxSemIDs         = "project.max-sem-ids"
	ProjectMaxShmIDs         = "project.max-shm-ids"
	ProjectMaxShmMemory      = "project.max-shm-memory"
	ProjectMaxTasks          = "project.max-tasks"
	TaskMaxCPUTime           = "task.max-cpu-time"
	TaskMaxLwps              = "task.max-lwps"
	TaskMaxProcesses         = "task.max-processes"
	ZoneCPUCap               = "zone.cpu-cap"
	ZoneCPUShares            = "zone.cpu-shares"
	ZoneMaxLockedMemory      = "zone.max-locked-memory"
	ZoneMaxLwps              = "zone.max-lwps"
	ZoneMaxMsgIDs            = "zone.max-msg-ids"
	ZoneMaxPhysicalMemory    = "zone.max-physical-memory"
	ZoneMaxProcesses         = "zone.max-processes"
	ZoneMaxSemIDs            = "zone.max-sem-ids"
	ZoneMaxShmIDs            = "zone.max-shm-ids"
	ZoneMaxShmMemory         = "zone.max-shm-memory"
	ZoneMaxSwap              = "zone.max-swap"

	// ProjectPool is a project attribute (its resource pool), not a
	// control: /etc/project may carry it among the controls.
	ProjectPool = "project.pool"
)

// Unsupported are illumos controls Linux has nothing to enforce with: a
// configuration naming one is refused, saying why.
var Unsupported = map[string]string{
	"zone.max-lofi":        "Linux has no lofi devices",
	"zone.zfs-io-priority": "zonetop has no ZFS I/O scheduler to give a priority to",
}
