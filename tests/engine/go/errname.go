// What the engine tests' Go programs print of an outcome: OK, EOF or the
// errno under a net error, by name (what the program saw). Built into both
// client and server.
package main

import (
	"errors"
	"io"
	"syscall"
)

func errName(err error) string {
	switch {
	case err == nil:
		return "OK"
	case errors.Is(err, io.EOF):
		return "EOF"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "ECONNREFUSED"
	case errors.Is(err, syscall.ECONNRESET):
		return "ECONNRESET"
	case errors.Is(err, syscall.EPIPE):
		return "EPIPE"
	}
	return "other: " + err.Error()
}
