"""What the executor and `aml-genomics` share: job specs, components, environments,
clusters, names, settings. No Azure calls; imports only itself."""
