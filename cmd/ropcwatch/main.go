// Command ropcwatch detects successful ROPC sign-ins (Sentinel rule "ROPC
// Authentication Detected - Credential Pass-Through Bypass") in Entra ID
// sign-in streams. Start reading at run in commands.go.
package main

import (
	"context"
	"os"
)

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr))
}
