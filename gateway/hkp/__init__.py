"""The HKP SOAP door: envelope parsing, attachments, dispatch on Parancs/Szolgaltatas,
``iop:HibaUzenet`` mapping. It translates; the services decide."""
