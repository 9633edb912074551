"""The labelling loop: pre-annotations for Label Studio and CVAT, and which photos to label
next (``select``)."""
