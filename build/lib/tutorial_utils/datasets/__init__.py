"""The book's data sets, one module each (Iris, MNIST, the novel), and the fetching they share.

Each module holds what belongs to its data set: where it comes from and how it is verified, how
it is parsed and prepared, and its pictures. Import cost is NumPy's: torch, torchvision and
matplotlib are imported by the functions that need them.
"""
