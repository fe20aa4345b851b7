// Command uapid: see internal/cli and the README.
package main

import (
	"os"

	"github.com/uapid/uapid/internal/cli"
)

func main() {
	os.Exit(cli.Main(os.Args[1:], cli.OSEnv()))
}
