"""sparselmm: sparse Bayesian phenotype prediction from SNP genotypes.

The variational-EM spike-and-slab model of Xiao (2019) "Sparse Linear Mixed
Model", its baselines, simulation, PLINK genotype I/O, cross-validation and
plotting.
"""

from ._design import PreparedGenotypes
from .baselines import TopSNP
from .hybrid import HybridLMM
from .model import SparseLMM

__all__ = ["SparseLMM", "HybridLMM", "TopSNP", "PreparedGenotypes"]
__version__ = "0.1.0"
