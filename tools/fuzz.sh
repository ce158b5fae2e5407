#!/usr/bin/env bash
# Fuzzes Jazzer targets for a while (coverage-guided), one after the other, keeping each generated corpus in
# <module>/.cifuzz-corpus/<Class>/<method>/. A crash is saved as a regression input under
# <module>/src/test/resources/.../<Class>Inputs/<method>/, which every build then replays.
#   tools/fuzz.sh DURATION TARGET...     e.g. tools/fuzz.sh 10m loader:io.falconmamba.loader.LoaderFuzzTest#modelConfig
#   tools/fuzz.sh DURATION all
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/bin/find-jdk"
export JAVA_HOME
ALL=(loader:io.falconmamba.loader.LoaderFuzzTest#safetensorsHeader
     loader:io.falconmamba.loader.LoaderFuzzTest#modelConfig
     loader:io.falconmamba.loader.gguf.GgufJazzerFuzzTest#ggufFile
     loader:io.falconmamba.loader.gguf.GgufJazzerFuzzTest#mambaModel
     core:io.falconmamba.core.generation.SnapshotFuzzTest#snapshotRestore
     tokenizer:io.falconmamba.tokenizer.TokenizerFuzzTest#chatTemplate
     tokenizer:io.falconmamba.tokenizer.TokenizerFuzzTest#tokenizerInput)
duration="${1:?usage: tools/fuzz.sh DURATION (TARGET...|all)}"
shift
targets=("$@")
[ "${targets[0]:-all}" = all ] && targets=("${ALL[@]}")
cd "$ROOT"
# One Maven run compiles the tests and writes each module's test classpath; the fuzzing runs hold no Maven.
modules=$(printf '%s\n' "${targets[@]}" | cut -d: -f1 | sort -u | paste -sd,)
./mvnw -o -B -q -pl "$modules" -am test-compile dependency:build-classpath \
  -Dmdep.outputFile=target/test-classpath.txt -Dmdep.includeScope=test
export JAZZER_FUZZ=1 JAZZER_MAX_DURATION="$duration"
# Instrument the libraries that parse what the targets feed (JSON, Jinja) too, so the fuzzer learns their structure.
export JAZZER_INSTRUMENT="${JAZZER_INSTRUMENT:-io.falconmamba.**,com.fasterxml.jackson.core.**,com.hubspot.jinjava.**}"
# The runs read a copy of the compiled classes, so a build during a long run cannot change them underneath it.
snap="$ROOT/target/fuzz-classes"
rm -rf "$snap"
mkdir -p "$snap"
for m in $(printf '%s\n' "${targets[@]}" | cut -d: -f1 | sort -u); do
  mkdir -p "$snap/$m"
  cp -r "$m/target/classes" "$m/target/test-classes" "$snap/$m/"
  # Reactor modules on the classpath are target/classes folders: copy them too, and point the classpath there.
  cp_line=$(cat "$m/target/test-classpath.txt")
  for dep in core loader tokenizer testkit; do
    if [[ "$cp_line" == *"$ROOT/$dep/target/classes"* ]]; then
      mkdir -p "$snap/$m/deps/$dep"
      cp -r "$dep/target/classes" "$snap/$m/deps/$dep/"
      from="$ROOT/$dep/target/classes"
      cp_line="${cp_line//"$from"/$snap/$m/deps/$dep/classes}"
    fi
  done
  # The modules declare no JUnit engine (surefire brings its own, matching junit-jupiter-api); the launcher needs
  # one, so add the engine jar of the same version, which the module's Maven test runs leave in the local repository.
  api_jar=$(printf '%s' "$cp_line" | tr ':' '\n' | grep '/junit-jupiter-api-[^/]*\.jar$' | head -1)
  engine_jar=${api_jar//junit-jupiter-api/junit-jupiter-engine}
  if [ ! -f "$engine_jar" ]; then
    echo "no $engine_jar: run the module's tests with Maven once (surefire fetches it)" >&2
    exit 1
  fi
  cp_line="$cp_line:$engine_jar"
  printf '%s' "$cp_line" >"$snap/$m/classpath.txt"
done
status=0
for t in "${targets[@]}"; do
  module="${t%%:*}"
  (cd "$module" && "$JAVA_HOME/bin/java" --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED \
      -XX:+EnableDynamicAgentLoading -Xmx2g -Dfixtures.root="$ROOT/src/test" \
      -cp "$snap/$module/test-classes:$snap/$module/classes:$(cat "$snap/$module/classpath.txt")" \
      "$ROOT/tools/RunFuzzTest.java" "${t#*:}") || status=1
done
exit $status
