// Command tiny stands in for the handler in the layout tests: the smallest
// program, cross-compiled in seconds for each GOOS/GOARCH, so the test checks
// every platform's layout without compiling the handler's dependencies for each.
package main

func main() {}
