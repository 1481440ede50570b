module github.com/nobodd-go/nobodd-go

go 1.26.8

require (
	github.com/BurntSushi/toml v1.6.0 // indirect
	github.com/lmittmann/tint v1.2.1 // indirect
	github.com/pin/tftp/v3 v3.1.0 // indirect
	golang.org/x/net v0.62.0 // indirect
	golang.org/x/sys v0.49.0 // indirect
	pack.ag/tftp v1.0.1-0.20181129014014-07909dfbde3c // indirect
)
