# llamac - Llama 3.x system in C. `make` builds libllamac.a and llamac; `make test`
# runs every test; `make test-asan` the same under ASan+UBSan; `make run` starts a chat.
CC      ?= cc
OPT     ?= -O2
CFLAGS  ?= $(OPT) -g
CFLAGS  += -std=c17 -Wall -Wextra -pthread -Iinclude -Isrc -D_GNU_SOURCE
LDLIBS  := -ljansson -lutf8proc -lopenblas -lm -pthread
BUILD   ?= build

LIB_SRC := $(sort $(wildcard src/*.c))
LIB_OBJ := $(LIB_SRC:src/%.c=$(BUILD)/src/%.o)
TEST_SRC := $(sort $(wildcard tests/*.c))
TEST_OBJ := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%.o)
LIB     := $(BUILD)/libllamac.a
BIN     := llamac

.PHONY: all deps test test-asan run bench clean default-models

all: deps $(BIN) $(BUILD)/gen_toolchat

deps:
	@sh scripts/deps.sh

$(BUILD)/src/%.o: src/%.c include/llamac.h src/internal.h $(wildcard src/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

# only these files use ISA extensions; the rest of the binary runs on any x86-64
ifeq ($(shell uname -m),x86_64)
$(BUILD)/src/kern_avx2.o: CFLAGS += -mavx2 -mfma -mf16c
$(BUILD)/src/kern_avx512.o: CFLAGS += -mavx512f -mavx512bw -mavx512vl -mavx512dq -mavx512vnni -mavx2 -mfma -mf16c
endif

$(LIB): $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

# the program: every tools/*.c but the dataset generator, which is its own program
CLI_SRC := $(filter-out tools/gen_toolchat.c,$(sort $(wildcard tools/*.c)))

$(BIN): $(CLI_SRC) $(wildcard tools/*.h) $(LIB)
	$(CC) $(CFLAGS) -Itools -o $@ $(CLI_SRC) $(LIB) $(LDLIBS) -ledit

$(BUILD)/gen_toolchat: tools/gen_toolchat.c $(LIB)
	$(CC) $(CFLAGS) -o $@ tools/gen_toolchat.c $(LIB) $(LDLIBS)

$(BUILD)/tables.h: $(TEST_SRC)
	@mkdir -p $(dir $@)
	@for f in $(filter tests/test_%.c,$(TEST_SRC)); do b=$$(basename $$f .c); echo "TABLE(tests_$${b#test_})"; done > $@

$(BUILD)/tests/%.o: tests/%.c tests/test.h include/llamac.h src/internal.h $(BUILD)/tables.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -I$(BUILD) -Itests -c $< -o $@

$(BUILD)/test_runner: $(TEST_OBJ) $(LIB)
	$(CC) $(CFLAGS) -o $@ $(TEST_OBJ) $(LIB) $(LDLIBS)

test: deps $(BIN) $(BUILD)/test_runner $(BUILD)/gen_toolchat
	@LLAMAC_BIN=./$(BIN) $(BUILD)/test_runner $(T)

# the whole suite under AddressSanitizer + UndefinedBehaviorSanitizer, in its own build dir
test-asan: deps
	@$(MAKE) --no-print-directory BUILD=build-asan BIN=build-asan/llamac \
	    OPT="-O1 -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined" \
	    build-asan/llamac build-asan/test_runner build-asan/gen_toolchat
	@ASAN_OPTIONS=detect_leaks=1 LLAMAC_BIN=./build-asan/llamac build-asan/test_runner $(T)

run: all
	@./scripts/run.sh "$(MODEL)"

# retrains models/default-base.gguf and models/default-chat.gguf from scratch (< 1 hour on 2 cores)
default-models: all
	./scripts/default_models.sh $(CORPUS)

BENCH_SRC := $(sort $(wildcard bench/*.c))
BENCH_BIN := $(BENCH_SRC:bench/%.c=$(BUILD)/bench_%)

$(BUILD)/bench_%: bench/%.c $(LIB)
	$(CC) $(CFLAGS) -O2 -o $@ $< $(LIB) $(LDLIBS)

bench: all $(BENCH_BIN)
	@BUILD=$(BUILD) ./scripts/bench.sh

clean:
	rm -rf build build-asan $(BIN)
