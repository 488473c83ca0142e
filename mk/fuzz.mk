# Fuzzing (Go native fuzz targets; seed corpora and regressions in each
# package's testdata/fuzz/<Target>/, which `go test` runs as ordinary tests).
#
#   make fuzz            every target below for FUZZTIME each, one `go test -fuzz`
#                        per target (Go fuzzes one target per invocation); prints
#                        the executions of each; a failing input is written to
#                        testdata/fuzz/<Target>/ — commit it with the fix
#   make fuzz FUZZTIME=5m FUZZ_TARGETS=plugin/config:FuzzParse   one target, longer
#
# 11 targets x 20 s keep CI under 5 minutes on 2 cores.

FUZZTIME         ?= 20s
# A new input is minimized for at most this long, so that minimization does
# not stall the run on a loaded machine.
FUZZMINIMIZETIME ?= 2s
FUZZPARALLEL     ?= 2
FUZZ_TARGETS ?= \
	host/exec:FuzzParseRequest \
	host/exec:FuzzReadRequest \
	host/exec:FuzzRequestJSON \
	host/exec:FuzzDecodeAnswer \
	plugin/config:FuzzParse \
	plugin/agentconn:FuzzParseHeader \
	plugin/provider:FuzzJWTLifetime \
	plugin/provider:FuzzCleanMessage \
	plugin/provider/vcf:FuzzSDDCManagerAnswers \
	plugin/provider/vcd:FuzzCloudDirectorAnswers \
	plugin/provider/vcenter:FuzzVCenterAnswers

.PHONY: fuzz

## fuzz: each fuzz target for FUZZTIME (default 20s), one go test -fuzz per target
fuzz:
	@tools/fuzz.sh "$(GO)" $(FUZZTIME) $(FUZZMINIMIZETIME) $(FUZZPARALLEL) $(FUZZ_TARGETS)
