"""The only code that talks to Azure (the Azure ML control plane, the Retail Prices
API), with the retry, polling and status vocabulary it owns. Imports model only."""
