// Package tftp is a TFTP server framework and client.
package tftp
