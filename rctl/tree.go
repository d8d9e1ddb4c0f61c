package rctl

// Resource names what is counted, independent of level: the part of an
// rctl name after the level ("max-shm-memory" for zone.max-shm-memory and
// project.max-shm-memory alike).
type Resource string
