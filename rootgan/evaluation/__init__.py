"""Physics observables of generated and real images, and (later) the distances between
their distributions. Knows nothing about networks or TMVA."""
