"""Public data sets: downloaded, checked and unpacked (download), or converted from their own
layouts to the Kaggle layout (convert/)."""
