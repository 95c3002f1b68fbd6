// The engine tests' Go program: a TCP client of 127.0.0.1:PORT that prints
// what the standard library returned to it, one line per step, so that the
// tests can compare it with what sockdiag recorded. After a successful dial
// it sends "hello", which the server (server.go) waits for. Stdlib only.
//
//	client refused PORT  dial a port nobody listens on: Go's non-blocking
//	                     connect, then SO_ERROR = ECONNREFUSED
//	client reset PORT    read from a connection the server resets
//	client eof PORT      read from a connection the server closes (FIN)
//	client epipe PORT    read the end of file, then write until a write
//	                     fails: the server's reset makes it EPIPE (Go
//	                     ignores SIGPIPE for sockets: the write returns it)
package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"time"
)

// What each mode's last step returns when the engine tests' setup is right.
var expected = map[string]string{"refused": "ECONNREFUSED", "reset": "ECONNRESET", "eof": "EOF", "epipe": "EPIPE"}

func main() {
	if len(os.Args) != 3 || expected[os.Args[1]] == "" {
		fmt.Fprintln(os.Stderr, "usage: client refused|reset|eof|epipe PORT")
		os.Exit(2)
	}
	mode, address := os.Args[1], "127.0.0.1:"+os.Args[2]
	conn, err := net.DialTimeout("tcp4", address, 10*time.Second)
	fmt.Printf("dial: %s\n", errName(err))
	if err == nil {
		defer conn.Close()
		// Every step is bounded: a test never waits for ever.
		conn.SetDeadline(time.Now().Add(10 * time.Second))
		_, err = conn.Write([]byte("hello"))
		fmt.Printf("write: %s\n", errName(err))
	}
	buf := make([]byte, 64)
	if err == nil {
		_, err = conn.Read(buf)
		fmt.Printf("read: %s\n", errName(err))
	}
	if mode == "epipe" && errors.Is(err, io.EOF) {
		// The first write after the end of file is taken; the server's
		// kernel answers it with a reset, which fails the next write.
		for err = nil; err == nil; time.Sleep(10 * time.Millisecond) {
			_, err = conn.Write([]byte("after the end"))
		}
		fmt.Printf("write: %s\n", errName(err))
	}
	// 0: the step the mode is about failed as it should.
	if errName(err) != expected[mode] {
		os.Exit(1)
	}
}
