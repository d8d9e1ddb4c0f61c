package configs

// NetSpec is one zonecfg `net` resource as the runtime applies it. The
// field names follow zonecfg's properties; which of them a zone may use
// depends on its ip-type (see netValidate).
type NetSpec struct {
	Physical       string `json:"physical"`
	Address        string `json:"address,omitempty"`
	AllowedAddress string `json:"allowed-address,omitempty"`
	Defrouter      string `json:"defrouter,omitempty"`
	GlobalNIC      string `json:"global-nic,omitempty"`
	MACAddr        string `json:"mac-addr,omitempty"`
	VLANID         string `json:"vlan-id,omitempty"`
}
