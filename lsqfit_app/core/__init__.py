"""Qt-free core types: parameters, progress and cancel, results, statistics, tables."""
