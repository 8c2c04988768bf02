from ._kann import Fit as Fit, fit as fit
