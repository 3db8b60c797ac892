"""PDFs the gateway writes itself: the e-Papír beadvány (fpdf2, embedded files by pyHanko)."""
