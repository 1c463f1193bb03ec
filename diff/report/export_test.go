package report

// FitBuckets exposes fitBuckets to the external tests.
var FitBuckets = fitBuckets
