"""Instance scoring: COCO box and mask AP, and Fashionpedia's IoU-and-attribute-F1 AP."""
