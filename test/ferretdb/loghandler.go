package main

import (
	"context"
	"log/slog"
)

// lazyHandler defers WithAttrs and WithGroup to the records that are actually written.
// FerretDB v1 calls Logger.With(args...) around every SQL statement to log it at debug
// level; slog's own handlers format those attributes (the whole document, quoted) at With
// time, whatever the level, which took a quarter of FerretDB's CPU under hookline's load.
type lazyHandler struct {
	inner slog.Handler
	ops   []func(slog.Handler) slog.Handler
}

func (h *lazyHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.inner.Enabled(ctx, l)
}

func (h *lazyHandler) Handle(ctx context.Context, r slog.Record) error {
	inner := h.inner
	for _, op := range h.ops {
		inner = op(inner)
	}
	return inner.Handle(ctx, r)
}

func (h *lazyHandler) with(op func(slog.Handler) slog.Handler) slog.Handler {
	ops := make([]func(slog.Handler) slog.Handler, len(h.ops), len(h.ops)+1)
	copy(ops, h.ops)
	return &lazyHandler{inner: h.inner, ops: append(ops, op)}
}

func (h *lazyHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return h.with(func(in slog.Handler) slog.Handler { return in.WithAttrs(attrs) })
}

func (h *lazyHandler) WithGroup(name string) slog.Handler {
	return h.with(func(in slog.Handler) slog.Handler { return in.WithGroup(name) })
}
