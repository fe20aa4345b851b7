// Command uapi: see internal/cli and the README.
package main

import (
	"os"

	"github.com/uapid/uapid/internal/cli"
)

func main() {
	os.Exit(cli.UAPIMain(os.Args[1:], cli.OSEnv()))
}
