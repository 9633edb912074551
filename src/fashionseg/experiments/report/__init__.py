"""Tables, figures and HTML pages. Matplotlib stays here, at the edge."""
