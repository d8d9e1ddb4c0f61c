// Package testhook names the fault-injection points a test can make a
// zonetop process stop at. Production code only asks whether one is set;
// it touches nothing.
package testhook
