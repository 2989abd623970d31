// Package stream moves bytes between ropcwatch and the outside: it reads
// messages from files (plain or gzip, one message per line) and writes
// output lines to files. It knows nothing about sign-ins.
package stream
