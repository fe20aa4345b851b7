// Command whmapi1: see internal/cli and the README.
package main

import (
	"os"

	"github.com/uapid/uapid/internal/cli"
)

func main() {
	os.Exit(cli.WHMAPIMain(os.Args[1:], cli.OSEnv()))
}
