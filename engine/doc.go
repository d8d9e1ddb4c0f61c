// Package engine is the API every zonetop front end uses, and the runtime
// behind it: zone life-cycle orchestration (install, ready, boot, halt,
// reboot, shutdown, uninstall, verify, list), the per-zone supervisor
// zoneadmd, the zone's PID 1 zsched and its init, the virtual platform
// (namespaces, mounts, devices, network, cgroups) and authorization of every
// call by its principal.
//
// It may touch what zonetop created: zone roots under their zonepaths, the
// run and log directories under the root prefix, cgroups below zonetop's
// own, and network links it made. Front ends reach it only through the
// exported request/response API, so it can later be served over a stream.
package engine
