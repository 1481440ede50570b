module github.com/nobodd-go/nobodd-go

go 1.26.8

require (
	github.com/BurntSushi/toml v1.6.0
	github.com/lmittmann/tint v1.2.1
	github.com/pin/tftp/v3 v3.1.0
	golang.org/x/net v0.62.0
	golang.org/x/sys v0.49.0
	pack.ag/tftp v1.0.1-0.20181129014014-07909dfbde3c
)
