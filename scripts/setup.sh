#!/usr/bin/env bash
# Install what the workflow and its tests need; idempotent and quick when all is present.
# Debian packages for the tools (bwa, samtools, fastqc, mosdepth, seqkit) (bioconda users: see workflow/envs/*.yaml and `--sdm conda`)
# and Chromium (the tests render `aml-genomics report`'s page in it, headless),
# the project itself from pyproject.toml, and Azurite (npm) for the storage tests.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v bwa >/dev/null || need_apt+=(bwa)
command -v samtools >/dev/null || need_apt+=(samtools)
command -v wgsim >/dev/null || need_apt+=(samtools)
command -v fastqc >/dev/null || need_apt+=(fastqc)
command -v seqkit >/dev/null || need_apt+=(seqkit)
# Debian's mosdepth loads libhts.so at run time, which only libhts-dev provides.
mosdepth --version >/dev/null 2>&1 || need_apt+=(mosdepth libhts-dev)
command -v chromium >/dev/null || need_apt+=(chromium)
[ -f /usr/share/doc/bowtie/examples/genomes/NC_008253.fna.gz ] || need_apt+=(bowtie-examples)
if [ ${#need_apt[@]} -gt 0 ]; then
    echo "setup: installing Debian packages: ${need_apt[*]}"
    sudo_cmd=()
    [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
    "${sudo_cmd[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

stamp=.tools/pip-installed.stamp
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ] \
    || ! python3 -c "import snakemake_executor_plugin_aml, snakemake_storage_plugin_azureml" 2>/dev/null; then
    echo "setup: pip install -e '.[test]'"
    python3 -m pip install -q --disable-pip-version-check -e '.[test]'
    mkdir -p .tools && touch "$stamp"
fi

if [ ! -x .tools/node_modules/.bin/azurite-blob ]; then
    echo "setup: npm install azurite (storage emulator for the tests)"
    mkdir -p .tools
    npm install --silent --no-audit --no-fund --prefix .tools azurite >/dev/null
fi

# `snakemake --profile aml` looks for ./aml, then ~/.config/snakemake/aml: link the latter here.
profiles_dir="${XDG_CONFIG_HOME:-$HOME/.config}/snakemake"
if [ "$(readlink "$profiles_dir/aml" 2>/dev/null)" != "$PWD/workflow_profiles/aml" ]; then
    if [ -e "$profiles_dir/aml" ] && [ ! -L "$profiles_dir/aml" ]; then
        echo "setup: $profiles_dir/aml exists and is not a link; use --profile $PWD/workflow_profiles/aml"
    else
        mkdir -p "$profiles_dir"
        ln -sfn "$PWD/workflow_profiles/aml" "$profiles_dir/aml"
        echo "setup: linked $profiles_dir/aml -> workflow_profiles/aml"
    fi
fi
