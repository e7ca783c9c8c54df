package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/nimbus-media/nimbus"
	"github.com/nimbus-media/nimbus/server"
	"github.com/nimbus-media/nimbus/server/config"
)

// parseServeFlags parses serve's flags: the configuration file and the
// listener addresses given, by flag name. Only the listener flags given
// override the configuration, an empty one too: -rtmfp "" turns RTMFP
// off, where an absent flag leaves the configured address.
func parseServeFlags(args []string) (configFile string, listens map[string]string, err error) {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.StringVar(&configFile, "config", "", "configuration file (default: the built-in config.toml)")
	fs.String("rtmp", "", "RTMP listen address, overriding the configuration")
	fs.String("rtmfp", "", "RTMFP listen address, overriding the configuration (\"\": off)")
	fs.String("rtmpt", "", "RTMPT (RTMP over HTTP) listen address, overriding the configuration (\"\": off)")
	fs.String("http", "", "admin HTTP listen address, overriding the configuration (\"\": off)")
	fs.String("play", "", "playback (HTTP-FLV, WebSocket-FLV) listen address, overriding the configuration (\"\": off)")
	if err := fs.Parse(args); err != nil {
		return "", nil, err
	}
	listens = map[string]string{}
	fs.Visit(func(f *flag.Flag) {
		if f.Name != "config" {
			listens[f.Name] = f.Value.String()
		}
	})
	return configFile, listens, nil
}

func serve(ctx context.Context, args []string) error {
	configFile, listens, err := parseServeFlags(args)
	if err != nil {
		return err
	}
	// load reads the configuration: the file over the defaults, then the
	// environment, then the flags, validating only the result. It
	// returns the NIMBUS_ variables that name no key, to be warned about
	// once there is a logger.
	load := func() (config.Config, []string, error) {
		data := nimbus.DefaultConfig
		if configFile != "" {
			var err error
			if data, err = os.ReadFile(configFile); err != nil {
				return config.Config{}, nil, err
			}
		}
		cfg, err := config.DecodeConfig(data)
		if err != nil {
			return cfg, nil, err
		}
		unknown, err := cfg.ApplyEnv(os.Environ())
		if err != nil {
			return cfg, unknown, err
		}
		overrideListens(&cfg, listens)
		return cfg, unknown, cfg.Validate()
	}
	cfg, unknown, err := load()
	if err != nil {
		return err
	}
	log, err := newLogger(cfg.Log)
	if err != nil {
		return err
	}
	defer func() { _ = log.Sync() }()
	log.Info("starting nimbus", zap.String("version", nimbus.Version))
	warnUnknownEnv(log, unknown)
	if os.Getenv("GOGC") == "" {
		// A live server's garbage is its streams' media (a frame is
		// shared by all players, who allocate nothing), and most of
		// its heap is media bytes, which the collector does not scan:
		// collecting at a fifth of the live heap rather than all of it
		// costs next to no CPU and keeps the memory per player down
		// (1000 players: 12 KB each rather than 15 at 50 %). GOGC
		// overrides it.
		debug.SetGCPercent(20)
	}
	srv := server.New(cfg, log)
	if err := srv.Listen(); err != nil {
		return err
	}
	// SIGHUP re-reads the configuration and applies what can change
	// without dropping a client.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				// The environment applies again, over the re-read
				// file, as at startup.
				cfg, unknown, err := load()
				warnUnknownEnv(log, unknown)
				if err == nil {
					err = srv.Reload(cfg)
				}
				if err != nil {
					log.Error("reload failed; keeping the running configuration", zap.Error(err))
				}
			}
		}
	}()
	err = srv.Serve(ctx)
	log.Info("stopped")
	return err
}

// warnUnknownEnv reports NIMBUS_ variables that override nothing, most
// likely a misspelt key, without refusing to start over them.
func warnUnknownEnv(log *zap.Logger, unknown []string) {
	for _, name := range unknown {
		log.Warn("environment variable names no configuration key; ignored", zap.String("variable", name))
	}
}

// overrideListens applies the listener flags given (by flag name) to cfg.
// An empty -rtmp is left to Validate, which refuses an empty rtmp.listen
// from any source.
func overrideListens(cfg *config.Config, listens map[string]string) {
	for name, addr := range listens {
		switch name {
		case "rtmp":
			cfg.RTMP.Listen = addr
		case "rtmfp":
			cfg.RTMFP.Listen = addr
		case "rtmpt":
			cfg.RTMPT.Listen = addr
		case "http":
			cfg.HTTP.Listen = addr
		case "play":
			cfg.Play.Listen = addr
		}
	}
}

func newLogger(cfg config.LogConfig) (*zap.Logger, error) {
	level, err := zapcore.ParseLevel(cfg.Level)
	if err != nil {
		return nil, fmt.Errorf("config: log.level: %w", err)
	}
	var zc zap.Config
	switch cfg.Format {
	case "json":
		zc = zap.NewProductionConfig()
	case "console", "":
		zc = zap.NewDevelopmentConfig()
		zc.DisableStacktrace = true
		zc.Development = false
	default:
		return nil, fmt.Errorf("config: log.format %q must be console or json", cfg.Format)
	}
	zc.Level = zap.NewAtomicLevelAt(level)
	return zc.Build()
}

func printVersion() error {
	fmt.Println("nimbus", nimbus.Version)
	return nil
}
