package redisstore

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"

	"github.com/redis/go-redis/v9"
)

// unreachable reports whether err means that Redis cannot serve the store
// now, through no fault of the request: the answer is store.ErrUnavailable
// (503), and the store recovers by itself when the server is back.
//
//   - network errors: refused, reset or timed-out connections, failed name
//     lookups, and an end of stream where a reply was due (the server went
//     away mid-command);
//   - no connection to be had: the pool's wait for a free connection timed
//     out, or the pool is exhausted;
//   - the deadline of the request or of the store (Options.Timeout)
//     passed while waiting for Redis;
//   - replies of a server that is up but cannot serve yet or any more:
//     LOADING (reading its data set at start), BUSY (a script runs too
//     long), MASTERDOWN, READONLY (a primary demoted by a failover),
//     NOREPLICAS, TRYAGAIN, CLUSTERDOWN, and "max number of clients
//     reached";
//   - Sentinel: none of the sentinels answers.
//
// A canceled context (the client went away) is not unavailability, nor is a
// closed client (a shutdown, or a bug), a refused password, or a script
// error.
func unreachable(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, redis.ErrClosed) {
		return false
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, redis.ErrPoolTimeout) || errors.Is(err, redis.ErrPoolExhausted) ||
		errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return true
	}
	if redis.IsLoadingError(err) || redis.IsReadOnlyError(err) || redis.IsMasterDownError(err) ||
		redis.IsTryAgainError(err) || redis.IsClusterDownError(err) || redis.IsMaxClientsError(err) {
		return true
	}
	for _, p := range []string{"LOADING", "BUSY", "MASTERDOWN", "READONLY", "NOREPLICAS", "TRYAGAIN", "CLUSTERDOWN"} {
		if redis.HasErrorPrefix(err, p+" ") {
			return true
		}
	}
	return strings.Contains(err.Error(), "all sentinels specified in configuration are unreachable")
}
