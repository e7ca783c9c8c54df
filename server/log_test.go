package server

import (
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest"
)

// zapcoreTee sends log entries both to the observer and to the test log.
func zapcoreTee(core zapcore.Core, t *testing.T) zapcore.Core {
	return zapcore.NewTee(core, zaptest.NewLogger(t).Core())
}

func zapBool(key string, v bool) zapcore.Field { return zap.Bool(key, v) }

func zapString(key, v string) zapcore.Field  { return zap.String(key, v) }
func zapInt(key string, v int) zapcore.Field { return zap.Int(key, v) }
