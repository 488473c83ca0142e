package engine

import (
	"errors"
	"net/http"
	"time"

	"github.com/hashicorp/vault/sdk/logical"
	"google.golang.org/grpc/codes"

	tkplugin "github.com/tokenkeeper/tokenkeeper/plugin"
	"github.com/tokenkeeper/tokenkeeper/plugin/wire"
)

// httpStatus is the HTTP status of each class of tokenkeeper error. Vault
// itself never answers 401, so 401 is always the upstream refusing the
// credentials. FailedPrecondition is 409, and the lockout guard 423
// (lockedStatus), never 412 or 429: Vault's client retries those, and a
// refusal must come back at once.
var httpStatus = map[codes.Code]int{
	codes.NotFound:           http.StatusNotFound,
	codes.InvalidArgument:    http.StatusBadRequest,
	codes.FailedPrecondition: http.StatusConflict,
	codes.Unauthenticated:    http.StatusUnauthorized,
	codes.PermissionDenied:   http.StatusForbidden,
	codes.Unavailable:        http.StatusServiceUnavailable,
	codes.Canceled:           http.StatusServiceUnavailable,
}

// codedError answers err with tokenkeeper's one classification
// (plugin.ErrorStatus): the HTTP status says the class, the message
// starts with the code (and the ErrorInfo reason, and the lockout guard's
// retry time), so that a client (provider: vault) maps it back without
// reading prose. The message is secret-free by the keeper's contract.
func codedError(err error) error {
	if errors.Is(err, errNoProfile) {
		return logical.CodedError(http.StatusNotFound, "NotFound: "+err.Error())
	}
	st := tkplugin.ErrorStatus(err, time.Now())
	code, ok := httpStatus[st.Code()]
	if !ok {
		code = http.StatusInternalServerError
	}
	prefix := st.Code().String()
	if info := wire.ErrorInfo(st); info != nil {
		if info.GetReason() == wire.ReasonLockoutGuard {
			code = http.StatusLocked
		}
		prefix += " " + info.GetReason()
		if at := info.GetMetadata()["retry_at"]; at != "" {
			prefix += " retry_at=" + at
		}
	}
	return logical.CodedError(code, prefix+": "+st.Message())
}
