// Package e2e runs tokenkeeper's Vault secrets engine as a real external
// plugin of a real Vault core (Vault 1.14.1's in-process test cluster, HA
// with three nodes) against tokenkeeper-sim. It is a module of its own:
// the Vault core pins its own dependency versions, which the tokenkeeper
// module's newer ones would upgrade and break.
package e2e
