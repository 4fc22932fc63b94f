package main

import (
	"os"
	"testing"

	"github.com/batchscore/batchscore/internal/testenv"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testenv.RemoveApp()
	os.Exit(code)
}
